//! Golden tests of the `opsgenie` source: every directory under `tests/fixtures/opsgenie/`
//! (repository root) holds `input.json` (the body Opsgenie's Webhook integration POSTs),
//! `expected.json` (the JSON array of CDEvents it must give once `POST /webhooks/opsgenie`
//! wrapped it) and, for some, `settings.json` (`[sources.opsgenie]`). With
//! `DORA_UPDATE_GOLDEN=1` the expected files are rewritten from the current output.
//!
//! Every emitted CDEvent must validate against the official CDEvents schemas, and the rules
//! (which actions are incidents, pairing, times, where service and environment come from) are
//! asserted on the fixtures, so that a careless golden update cannot hide a wrong one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::single;
use dora_sources::opsgenie::{webhook, OpsgenieSettings, OpsgenieTransformer};
use dora_sources::transform::{INCIDENT_DETECTED, INCIDENT_RESOLVED};
use dora_sources::{TokenSetting, WebhookSettings};
use http::{HeaderMap, HeaderValue};

golden_webhook_tool!("opsgenie", OpsgenieSettings, OpsgenieTransformer::new, webhook::WEBHOOK, golden_minimum: 7);

#[test]
fn a_created_alert_is_detected_and_its_closing_resolves_it() {
    let detected = one("create-service-tags");
    let resolved = one("close-service-tags");
    assert_eq!(detected["context"]["type"], INCIDENT_DETECTED);
    assert_eq!(resolved["context"]["type"], INCIDENT_RESOLVED);
    assert_eq!(detected["subject"]["id"], resolved["subject"]["id"]);
    assert_ne!(detected["context"]["id"], resolved["context"]["id"]);
    // createdAt is milliseconds, updatedAt nanoseconds.
    assert_eq!(detected["context"]["timestamp"], "2024-03-11T09:15:00Z");
    assert_eq!(resolved["context"]["timestamp"], "2024-03-11T09:45:00.418Z");
    let content = &detected["subject"]["content"];
    assert_eq!(content["service"]["id"], "checkout", "the service tag");
    assert_eq!(content["environment"]["id"], "production");
    assert_eq!(content["description"], "Checkout p99 latency above 2s");
    let dora = &detected["customData"]["dora"];
    assert_eq!(dora["priority"], "P2");
    assert_eq!(dora["team"], "payments");
}

#[test]
fn real_payloads_pair_and_other_actions_give_nothing() {
    let created = one("create");
    assert_eq!(created["context"]["timestamp"], "2017-08-14T11:25:56.288Z");
    assert_eq!(
        created["subject"]["content"]["service"]["id"], "Server",
        "the entity"
    );
    assert_eq!(created["customData"]["dora"]["priority"], 3);
    let closed = one("close");
    assert_eq!(
        closed["subject"]["id"],
        "052652ac-5d1c-464a-812a-7dd18bbfba8c"
    );
    assert_eq!(
        closed["context"]["timestamp"],
        "2015-01-05T10:06:14.669001603Z"
    );
    assert!(closed["subject"]["content"].get("service").is_none());
    assert!(run_dir(&common::fixtures(TOOL).join("acknowledge")).is_empty());
    let relay = one("create-relay-example");
    assert_eq!(relay["context"]["timestamp"], "2020-06-30T00:06:04.295Z");
}

#[test]
fn settings_choose_the_keys_and_the_default_environment() {
    let content = &one("create-environment-setting")["subject"]["content"];
    assert_eq!(content["service"]["id"], "search", "an extra property");
    assert_eq!(
        content["environment"]["id"], "prod",
        "env is not a key here"
    );
    let created = body("create-environment-setting");
    let default = single(
        run_body(created.as_bytes(), OpsgenieSettings::default()),
        "default",
    );
    assert_eq!(
        default["subject"]["content"]["environment"]["id"],
        "staging"
    );
    let no_entity = OpsgenieSettings {
        entity_is_service: false,
        ..OpsgenieSettings::default()
    };
    let created = single(run_body(body("create").as_bytes(), no_entity), "create");
    assert!(created["subject"]["content"].get("service").is_none());
}

#[test]
fn redeliveries_have_the_same_id_and_repeated_actions_do_not() {
    let adapt = |text: &str| {
        webhook::WEBHOOK
            .receive(
                &HeaderMap::new(),
                text.as_bytes(),
                &WebhookSettings::default(),
            )
            .unwrap()
            .remove(0)
    };
    let close = body("close");
    let later = close.replace("1420452374669001603", "1420452399000000000");
    assert_eq!(adapt(&close).id, adapt(&later).id);
    assert_eq!(adapt(&close).event_type, "com.opsgenie.alert.close");
    let ack = body("acknowledge");
    let again = ack.replace("1420452224764002246", "1420452399000000000");
    assert_ne!(adapt(&ack).id, adapt(&again).id);
}

#[test]
fn the_token_is_checked_and_malformed_payloads_name_the_field() {
    let settings = WebhookSettings {
        opsgenie: TokenSetting {
            token: Some("s3cret".into()),
        },
        ..WebhookSettings::default()
    };
    let created = body("create");
    let mut headers = HeaderMap::new();
    let status = |headers: &HeaderMap, text: &str| {
        webhook::WEBHOOK
            .receive(headers, text.as_bytes(), &settings)
            .map(|events| events.len())
            .map_err(|problem| (problem.status, problem.field.clone()))
    };
    assert_eq!(status(&headers, &created).unwrap_err().0, 401);
    headers.insert("authorization", HeaderValue::from_static("Bearer nope"));
    assert_eq!(status(&headers, &created).unwrap_err().0, 401);
    headers.insert("authorization", HeaderValue::from_static("Bearer s3cret"));
    assert_eq!(status(&headers, &created), Ok(1));
    for (text, field) in [
        ("[]", "body"),
        ("{", "body"),
        (r#"{"alert":{}}"#, "/action"),
        (r#"{"action":"Create"}"#, "/alert"),
        (
            r#"{"action":"Create","alert":{"createdAt":1}}"#,
            "/alert/alertId",
        ),
        (
            r#"{"action":"Create","alert":{"alertId":"a"}}"#,
            "/alert/createdAt",
        ),
        (
            r#"{"action":"Close","alert":{"alertId":"a","updatedAt":"soon"}}"#,
            "/alert/updatedAt",
        ),
    ] {
        let (code, named) = status(&headers, text).unwrap_err();
        assert_eq!((code, named.as_deref()), (400, Some(field)), "{text}");
    }
}
