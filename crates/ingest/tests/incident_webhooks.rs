//! The Alertmanager and PagerDuty webhook adapters, on the real payloads under
//! `tests/fixtures/{alertmanager,pagerduty}/payloads/` (repository root).
//!
//! The adapter's CloudEvents for `payloads/<name>.json` must equal, in order, the golden inputs
//! `<name>-0/input.json`, `<name>-1/input.json`, ... that `dora-pipeline`'s `incidents_golden`
//! test turns into CDEvents, so the two halves of each integration are tied together. With
//! `DORA_UPDATE_GOLDEN=1` the input files are rewritten from the adapters instead.
//!
//! Also: token and signature checks, de-duplication ids, and `400` naming the field of a
//! malformed payload.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use common::{
    bearer, case_names, compare_input, fixtures, payload, payload_bytes, payload_names,
    update_golden,
};
use dora_http::Problem;
use dora_model::cloudevent::CloudEvent;
use dora_sources::alertmanager::{AlertmanagerSettings, AlertmanagerTransformer};
use dora_sources::pagerduty::{PagerdutySettings, PagerdutyTransformer};
use dora_sources::webhook::sha256_signature;
use dora_sources::Transformer;
use dora_sources::{SecretSetting, TokenSetting, WebhookSettings};
use serde_json::{json, Value};

/// A change that breaks a payload.
type Breakage = Box<dyn Fn(&mut Value)>;

fn unsigned() -> WebhookSettings {
    WebhookSettings::default()
}

fn alertmanager(headers: &HeaderMap, body: &[u8], settings: &WebhookSettings) -> Vec<CloudEvent> {
    dora_sources::alertmanager::webhook::WEBHOOK
        .receive(headers, body, settings)
        .unwrap_or_else(|p| panic!("refused: {}", serde_json::to_string(&p).unwrap()))
}

fn pagerduty(headers: &HeaderMap, body: &[u8], settings: &WebhookSettings) -> Vec<CloudEvent> {
    dora_sources::pagerduty::webhook::WEBHOOK
        .receive(headers, body, settings)
        .unwrap_or_else(|p| panic!("refused: {}", serde_json::to_string(&p).unwrap()))
}

/// What a tool's adapter makes of `body`, without headers and with no secret or token set.
fn adapt_unsigned(tool: &str, body: &[u8]) -> Result<Vec<CloudEvent>, Problem> {
    let webhook = match tool {
        "alertmanager" => dora_sources::alertmanager::webhook::WEBHOOK,
        "pagerduty" => dora_sources::pagerduty::webhook::WEBHOOK,
        _ => unreachable!("{tool}"),
    };
    webhook.receive(&HeaderMap::new(), body, &unsigned())
}

fn adapt(tool: &str, body: &[u8]) -> Vec<CloudEvent> {
    adapt_unsigned(tool, body)
        .unwrap_or_else(|p| panic!("refused: {}", serde_json::to_string(&p).unwrap()))
}

/// Checks (or, with `DORA_UPDATE_GOLDEN=1`, writes) the golden inputs of one tool.
fn check_golden_inputs(tool: &str, minimum_cases: usize) {
    let update = update_golden();
    let mut produced = BTreeSet::new();
    let mut failures = Vec::new();
    for name in payload_names(tool) {
        let events = adapt(tool, &payload_bytes(tool, &name));
        assert!(!events.is_empty(), "{tool}/{name}: no CloudEvent");
        for (index, event) in events.iter().enumerate() {
            let case = format!("{name}-{index}");
            let stored = event.to_json();
            // What the raw store keeps parses back to the same event.
            assert_eq!(
                &CloudEvent::from_json_value(stored.clone()).unwrap(),
                event,
                "{tool}/{case}"
            );
            let path = fixtures(tool).join(&case).join("input.json");
            compare_input(
                &format!("{tool}/{case}"),
                &path,
                &stored,
                update,
                &mut failures,
            );
            produced.insert(case);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(
        produced.len() >= minimum_cases,
        "{tool}: only {} cases",
        produced.len()
    );
    if !update {
        // Every golden case comes from a payload: none is written by hand.
        assert_eq!(
            case_names(tool),
            produced,
            "{tool}: cases without a payload"
        );
    }
}

#[test]
fn alertmanager_payloads_give_the_golden_inputs() {
    check_golden_inputs("alertmanager", 8);
}

#[test]
fn pagerduty_payloads_give_the_golden_inputs() {
    check_golden_inputs("pagerduty", 6);
}

// ---------------------------------------------------------------------------------------------
// Alertmanager

fn with_token(token: &str) -> WebhookSettings {
    WebhookSettings {
        alertmanager: TokenSetting {
            token: Some(token.to_owned()),
        },
        ..WebhookSettings::default()
    }
}

fn assert_unauthorized(result: Result<Vec<CloudEvent>, Problem>, header: &str) {
    let problem = result.expect_err("must be refused");
    assert_eq!(problem.status, StatusCode::UNAUTHORIZED.as_u16());
    assert_eq!(problem.field.as_deref(), Some(header));
}

#[test]
fn alertmanager_token_is_required_when_configured() {
    let body = payload_bytes("alertmanager", "zulip-alert");
    let settings = with_token("s3cr3t-t0ken");
    assert_eq!(
        alertmanager(&bearer("Bearer s3cr3t-t0ken"), &body, &settings).len(),
        2
    );
    // The scheme is case-insensitive (RFC 9110).
    assert_eq!(
        alertmanager(&bearer("bearer s3cr3t-t0ken"), &body, &settings).len(),
        2
    );
    for wrong in [
        "Bearer s3cr3t-t0ke",
        "Bearer s3cr3t-t0ken2",
        "Bearer ",
        "Basic czNjcjN0LXQwa2Vu",
        "s3cr3t-t0ken",
    ] {
        assert_unauthorized(
            dora_sources::alertmanager::webhook::WEBHOOK.receive(&bearer(wrong), &body, &settings),
            "Authorization",
        );
    }
    assert_unauthorized(
        dora_sources::alertmanager::webhook::WEBHOOK.receive(&HeaderMap::new(), &body, &settings),
        "Authorization",
    );
    // The token is checked before the body: a refused request reveals nothing about it.
    assert_unauthorized(
        dora_sources::alertmanager::webhook::WEBHOOK.receive(
            &HeaderMap::new(),
            b"{nope",
            &settings,
        ),
        "Authorization",
    );
    // Without a configured token, any request is accepted.
    assert_eq!(
        alertmanager(&bearer("Bearer whatever"), &body, &unsigned()).len(),
        2
    );
}

fn one_alert(events: Vec<CloudEvent>) -> CloudEvent {
    assert_eq!(events.len(), 1);
    events.into_iter().next().unwrap()
}

/// The one CloudEvent a tool's adapter makes of its payload `name`.
fn the_event(tool: &str, name: &str) -> CloudEvent {
    one_alert(adapt(tool, &payload_bytes(tool, name)))
}

fn detect(event: &CloudEvent) -> Value {
    let mut out = AlertmanagerTransformer::new(AlertmanagerSettings::default())
        .documents(event)
        .unwrap();
    assert_eq!(out.len(), 1);
    dora_spec::validate(&out[0]).unwrap();
    out.remove(0)
}

#[test]
fn alertmanager_resent_firing_alert_is_a_duplicate_and_its_resolution_is_not() {
    let first = alertmanager(
        &HeaderMap::new(),
        &payload_bytes("alertmanager", "project-mixed-group"),
        &unsigned(),
    )
    .remove(0);
    // The same alert in the next notification (repeat_interval): Alertmanager moved endsAt
    // forward, and the group now holds only this alert.
    let mut resent = payload("alertmanager", "project-mixed-group");
    resent["alerts"] = json!([resent["alerts"][0].clone()]);
    resent["alerts"][0]["endsAt"] = json!("2024-03-12T09:53:07.512Z");
    let resent = one_alert(alertmanager(
        &HeaderMap::new(),
        resent.to_string().as_bytes(),
        &unsigned(),
    ));
    assert_eq!(resent.id, first.id);
    assert_eq!(resent.source, first.source);
    assert_eq!(first.id, "7a31e06805053420/2024-03-12T09:41:07.512Z/firing");

    let resolved = one_alert(alertmanager(
        &HeaderMap::new(),
        &payload_bytes("alertmanager", "project-resolved"),
        &unsigned(),
    ));
    assert_ne!(resolved.id, first.id);
    assert_eq!(
        resolved.id,
        "7a31e06805053420/2024-03-12T09:41:07.512Z/resolved"
    );
    assert_eq!(
        resolved.time_text.as_deref(),
        Some("2024-03-12T10:02:22.512Z")
    );
    // The detection and the resolution are one incident.
    let (detected, resolved) = (detect(&first), detect(&resolved));
    assert_eq!(detected["subject"]["id"], resolved["subject"]["id"]);
    assert_ne!(detected["context"]["id"], resolved["context"]["id"]);

    // The same alert firing again after it resolved is a new incident.
    let mut again = payload("alertmanager", "project-resolved");
    again["status"] = json!("firing");
    again["alerts"][0]["status"] = json!("firing");
    again["alerts"][0]["startsAt"] = json!("2024-03-12T11:15:37.512Z");
    let again = one_alert(alertmanager(
        &HeaderMap::new(),
        again.to_string().as_bytes(),
        &unsigned(),
    ));
    assert_ne!(detect(&again)["subject"]["id"], detected["subject"]["id"]);
}

#[test]
fn alertmanager_alerts_without_fingerprint_get_alertmanagers_own() {
    // alertmanager-bot's payloads come from an Alertmanager without fingerprints.
    let firing = the_event("alertmanager", "alertmanager-bot-firing");
    let resolved = the_event("alertmanager", "alertmanager-bot-resolved");
    let fingerprint = firing.id.split('/').next().unwrap().to_owned();
    assert_eq!(fingerprint.len(), 16);
    assert!(resolved.id.starts_with(&format!("{fingerprint}/")));
    assert_eq!(
        detect(&firing)["subject"]["id"],
        detect(&resolved)["subject"]["id"]
    );

    // zulip's first alert carries the fingerprint Alertmanager computed: dropping it gives the
    // same id.
    let mut zulip = payload("alertmanager", "zulip-alert");
    let with = adapt("alertmanager", zulip.to_string().as_bytes());
    zulip["alerts"][0]
        .as_object_mut()
        .unwrap()
        .remove("fingerprint");
    let without = adapt("alertmanager", zulip.to_string().as_bytes());
    assert_eq!(with[0].id, without[0].id);
    assert!(with[0].id.starts_with("a1bc48475b20e73d/"));
}

#[test]
fn alertmanager_splits_a_group_by_each_alerts_own_status() {
    let events = adapt(
        "alertmanager",
        &payload_bytes("alertmanager", "project-mixed-group"),
    );
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "io.prometheus.alertmanager.alert.firing",
            "io.prometheus.alertmanager.alert.resolved"
        ]
    );
    let data = events[0].data_json().unwrap();
    assert_eq!(data["receiver"], "dora-events");
    assert_eq!(
        data["externalURL"],
        "http://alertmanager.monitoring.svc:9093"
    );
    assert_eq!(data["commonLabels"]["alertname"], "HighErrorRate");
    assert!(data["groupKey"].is_string());
    assert!(data.get("groupLabels").is_none());
    assert_eq!(events[0].source, "http://alertmanager.monitoring.svc:9093");

    // No externalURL: the source is "alertmanager".
    let mut anonymous = payload("alertmanager", "project-resolved");
    anonymous["externalURL"] = json!("");
    assert_eq!(
        adapt("alertmanager", anonymous.to_string().as_bytes())[0].source,
        "alertmanager"
    );
    // An empty group is accepted and stores nothing.
    assert!(adapt(
        "alertmanager",
        br#"{"version":"4","status":"firing","alerts":[]}"#
    )
    .is_empty());
}

fn assert_bad_request(result: Result<Vec<CloudEvent>, Problem>, field: &str) {
    let problem = result.expect_err("must be refused");
    assert_eq!(problem.status, StatusCode::BAD_REQUEST.as_u16(), "{field}");
    assert_eq!(problem.field.as_deref(), Some(field));
    assert!(problem.detail.contains(field), "{}", problem.detail);
}

#[test]
fn alertmanager_malformed_payloads_are_400_naming_the_field() {
    let adapt_value = |value: &Value| adapt_unsigned("alertmanager", value.to_string().as_bytes());
    assert_bad_request(adapt_unsigned("alertmanager", b"{\"alerts\": ["), "body");
    assert_bad_request(adapt_value(&json!([1])), "body");
    let base = payload("alertmanager", "zulip-alert");
    let cases: Vec<(&str, Breakage)> = vec![
        (
            "/alerts",
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("alerts");
            }),
        ),
        ("/alerts", Box::new(|v| v["alerts"] = json!({"a": 1}))),
        ("/alerts/1", Box::new(|v| v["alerts"][1] = json!("alert"))),
        (
            "/alerts/1/startsAt",
            Box::new(|v| {
                v["alerts"][1].as_object_mut().unwrap().remove("startsAt");
            }),
        ),
        (
            "/alerts/0/startsAt",
            Box::new(|v| v["alerts"][0]["startsAt"] = json!("yesterday")),
        ),
        (
            "/alerts/0/startsAt",
            Box::new(|v| v["alerts"][0]["startsAt"] = json!("0001-01-01T00:00:00Z")),
        ),
        (
            "/alerts/0/status",
            Box::new(|v| v["alerts"][0]["status"] = json!("pending")),
        ),
        (
            // Without its own status and without the group's, an alert has none.
            "/alerts/1/status",
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("status");
                v["alerts"][1].as_object_mut().unwrap().remove("status");
            }),
        ),
        (
            "/alerts/0/fingerprint",
            Box::new(|v| v["alerts"][0]["fingerprint"] = json!("")),
        ),
        (
            "/alerts/0/labels/host",
            Box::new(|v| v["alerts"][0]["labels"]["host"] = json!(7)),
        ),
        (
            "/alerts/0/endsAt",
            // A resolved alert must say when it ended; zulip's alerts carry the zero time.
            Box::new(|v| v["alerts"][0]["status"] = json!("resolved")),
        ),
        (
            "/alerts/0/endsAt",
            Box::new(|v| {
                v["alerts"][0]["status"] = json!("resolved");
                v["alerts"][0].as_object_mut().unwrap().remove("endsAt");
            }),
        ),
        ("/externalURL", Box::new(|v| v["externalURL"] = json!(9093))),
    ];
    for (field, break_it) in cases {
        let mut value = base.clone();
        break_it(&mut value);
        assert_bad_request(adapt_value(&value), field);
    }
    // An alert without status takes the group's (prometheus-msteams' payload has none).
    let msteams = adapt(
        "alertmanager",
        &payload_bytes("alertmanager", "prometheus-msteams-firing"),
    );
    assert_eq!(
        msteams[0].event_type,
        "io.prometheus.alertmanager.alert.firing"
    );
}

// ---------------------------------------------------------------------------------------------
// PagerDuty

fn sign(secret: &str, body: &[u8]) -> String {
    let signature = sha256_signature(secret.as_bytes(), body);
    signature["sha256=".len()..].to_owned()
}

fn signature(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-pagerduty-signature",
        HeaderValue::from_str(value).unwrap(),
    );
    headers
}

fn with_secret(secret: &str) -> WebhookSettings {
    WebhookSettings {
        pagerduty: SecretSetting {
            secret: Some(secret.to_owned()),
        },
        ..WebhookSettings::default()
    }
}

#[test]
fn pagerduty_signature_is_checked_when_configured() {
    let body = payload_bytes("pagerduty", "zulip-triggered-v3");
    let secret = "ChangeMeChangeMeChangeMeChangeMe";
    let settings = with_secret(secret);
    let good = sign(secret, &body);
    let other = sign("an old secret being rotated out", &body);
    for header in [
        format!("v1={good}"),
        format!("v1={}", good.to_uppercase()),
        format!("v1={other},v1={good}"),
        format!("v1={other}, v1={good}"),
        format!("v2=abcd,v1={good}"),
    ] {
        assert_eq!(
            pagerduty(&signature(&header), &body, &settings).len(),
            1,
            "{header}"
        );
    }
    let mut tampered = body.clone();
    tampered.push(b'\n');
    for (header, body) in [
        (format!("v1={other}"), &body),
        (good.clone(), &body),
        (format!("v2={good}"), &body),
        (format!("v1={good}"), &tampered),
        ("v1=".to_owned(), &body),
        ("".to_owned(), &body),
    ] {
        assert_unauthorized(
            dora_sources::pagerduty::webhook::WEBHOOK.receive(&signature(&header), body, &settings),
            "X-PagerDuty-Signature",
        );
    }
    assert_unauthorized(
        dora_sources::pagerduty::webhook::WEBHOOK.receive(&HeaderMap::new(), &body, &settings),
        "X-PagerDuty-Signature",
    );
    // Without a configured secret, unsigned requests are accepted.
    assert_eq!(pagerduty(&HeaderMap::new(), &body, &unsigned()).len(), 1);
}

fn transform_pagerduty(event: &CloudEvent) -> Vec<Value> {
    let out = PagerdutyTransformer::new(PagerdutySettings::default())
        .documents(event)
        .unwrap();
    for document in &out {
        dora_spec::validate(document).unwrap();
    }
    out
}

#[test]
fn pagerduty_event_becomes_one_cloudevent_and_pairs_by_incident() {
    let triggered = the_event("pagerduty", "project-checkout-triggered");
    assert_eq!(triggered.event_type, "com.pagerduty.incident.triggered");
    assert_eq!(triggered.source, "https://acme.pagerduty.com");
    assert_eq!(triggered.id, "01EHGDWS1RMC4M6ZB3V0BCPKRN");
    assert_eq!(
        triggered.time_text.as_deref(),
        Some("2024-03-12T09:41:19.283Z")
    );
    assert_eq!(
        triggered.data_json(),
        Some(&payload("pagerduty", "project-checkout-triggered")["event"])
    );
    // A redelivery has the same (source, id): the raw store keeps one.
    let again = the_event("pagerduty", "project-checkout-triggered");
    assert_eq!(
        (&again.source, &again.id),
        (&triggered.source, &triggered.id)
    );

    let acknowledged = the_event("pagerduty", "project-checkout-acknowledged");
    let resolved = the_event("pagerduty", "project-checkout-resolved");
    assert_ne!(resolved.id, triggered.id);
    assert!(transform_pagerduty(&acknowledged).is_empty());
    let detected = transform_pagerduty(&triggered).remove(0);
    let resolved = transform_pagerduty(&resolved).remove(0);
    assert_eq!(detected["subject"]["id"], "Q2BFKD3NAOTJ4S");
    assert_eq!(detected["subject"]["id"], resolved["subject"]["id"]);

    // The ping of a new subscription is stored (202), and maps to nothing.
    let ping = the_event("pagerduty", "project-ping");
    assert_eq!(ping.event_type, "com.pagerduty.pagey.ping");
    assert_eq!(ping.source, "pagerduty");
    assert!(transform_pagerduty(&ping).is_empty());
}

#[test]
fn pagerduty_malformed_payloads_are_400_naming_the_field() {
    let adapt_value = |value: &Value| adapt_unsigned("pagerduty", value.to_string().as_bytes());
    assert_bad_request(adapt_unsigned("pagerduty", b"event=1"), "body");
    assert_bad_request(adapt_value(&json!("event")), "body");
    assert_bad_request(adapt_value(&json!({"messages": []})), "/event");
    assert_bad_request(adapt_value(&json!({"event": []})), "/event");
    let base = payload("pagerduty", "zulip-resolved-v3");
    let cases: Vec<(&str, Breakage)> = vec![
        (
            "/event/id",
            Box::new(|v| {
                v["event"].as_object_mut().unwrap().remove("id");
            }),
        ),
        ("/event/id", Box::new(|v| v["event"]["id"] = json!(""))),
        (
            "/event/event_type",
            Box::new(|v| v["event"]["event_type"] = json!(3)),
        ),
        (
            "/event/occurred_at",
            Box::new(|v| {
                v["event"].as_object_mut().unwrap().remove("occurred_at");
            }),
        ),
        (
            "/event/occurred_at",
            Box::new(|v| v["event"]["occurred_at"] = json!("2021-06-04 13:16:53")),
        ),
        (
            "/event/data",
            Box::new(|v| v["event"]["data"] = json!("PCPZE64")),
        ),
    ];
    for (field, break_it) in cases {
        let mut value = base.clone();
        break_it(&mut value);
        assert_bad_request(adapt_value(&value), field);
    }
}
